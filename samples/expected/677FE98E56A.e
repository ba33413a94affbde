*** ENVELOPE RECORDS deferred/6/677FE98E56A ***
message_size:             466             723               1               0            3727               0
message_arrival_time: Fri Nov 27 18:38:00 2026
create_time: Fri Nov 27 18:38:00 2026
named_attribute: log_ident=677FE98E56A
named_attribute: rewrite_context=local
sender: orig-sender@example.net
named_attribute: log_client_name=localhost
named_attribute: log_client_address=127.0.0.1
named_attribute: log_client_port=49132
named_attribute: log_message_origin=localhost[127.0.0.1]
named_attribute: log_helo_name=client.example.net
named_attribute: log_protocol_name=ESMTP
named_attribute: client_name=localhost
named_attribute: reverse_client_name=localhost
named_attribute: client_address=127.0.0.1
named_attribute: client_port=49132
named_attribute: server_address=127.0.0.1
named_attribute: server_port=10027
named_attribute: helo_name=client.example.net
named_attribute: protocol_name=ESMTP
named_attribute: client_address_type=2
warning_message_time: Fri Nov 27 22:38:00 2026
named_attribute: dsn_orig_rcpt=rfc822;frank@example.com
original_recipient: frank@example.com
recipient: frank@example.com
*** MESSAGE CONTENTS deferred/6/677FE98E56A ***
*** HEADER EXTRACTED deferred/6/677FE98E56A ***
*** MESSAGE FILE END deferred/6/677FE98E56A ***
