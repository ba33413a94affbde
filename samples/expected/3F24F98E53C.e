*** ENVELOPE RECORDS deferred/3/3F24F98E53C ***
message_size:             420             855               2              12             420               0
message_arrival_time: Fri Nov 27 18:38:00 2026
create_time: Fri Nov 27 18:38:00 2026
named_attribute: log_ident=3F24F98E53C
named_attribute: rewrite_context=local
named_attribute: envelope_id=plain-envid-0001
named_attribute: ret_flags=1
sender: dsn-sender@example.net
named_attribute: log_client_name=localhost
named_attribute: log_client_address=127.0.0.1
named_attribute: log_client_port=35094
named_attribute: log_message_origin=localhost[127.0.0.1]
named_attribute: log_helo_name=client.example.net
named_attribute: log_protocol_name=ESMTP
named_attribute: client_name=localhost
named_attribute: reverse_client_name=localhost
named_attribute: client_address=127.0.0.1
named_attribute: client_port=35094
named_attribute: server_address=127.0.0.1
named_attribute: server_port=10025
named_attribute: helo_name=client.example.net
named_attribute: protocol_name=ESMTP
named_attribute: client_address_type=2
warning_message_time: Fri Nov 27 22:38:00 2026
named_attribute: notify_flags=4
named_attribute: dsn_orig_rcpt=rfc822;erin@example.com
original_recipient: erin@example.com
recipient: erin@example.com
named_attribute: notify_flags=2
named_attribute: dsn_orig_rcpt=rfc822;frank@example.com
original_recipient: frank@example.com
recipient: frank@example.com
*** MESSAGE CONTENTS deferred/3/3F24F98E53C ***
*** HEADER EXTRACTED deferred/3/3F24F98E53C ***
*** MESSAGE FILE END deferred/3/3F24F98E53C ***
