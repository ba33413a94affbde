*** ENVELOPE RECORDS hold/4DD7F98E560 ***
message_size:             432             701               1               0             432               0
message_arrival_time: Fri Nov 27 18:38:00 2026
create_time: Fri Nov 27 18:38:00 2026
named_attribute: log_ident=4DD7F98E560
named_attribute: rewrite_context=local
sender: sender@example.net
named_attribute: log_client_name=localhost
named_attribute: log_client_address=127.0.0.1
named_attribute: log_client_port=35212
named_attribute: log_message_origin=localhost[127.0.0.1]
named_attribute: log_helo_name=client.example.net
named_attribute: log_protocol_name=ESMTP
named_attribute: client_name=localhost
named_attribute: reverse_client_name=localhost
named_attribute: client_address=127.0.0.1
named_attribute: client_port=35212
named_attribute: server_address=127.0.0.1
named_attribute: server_port=10025
named_attribute: helo_name=client.example.net
named_attribute: protocol_name=ESMTP
named_attribute: client_address_type=2
warning_message_time: Fri Nov 27 22:38:00 2026
named_attribute: dsn_orig_rcpt=rfc822;alice@example.com
original_recipient: alice@example.com
recipient: alice@example.com
*** MESSAGE CONTENTS hold/4DD7F98E560 ***
*** HEADER EXTRACTED hold/4DD7F98E560 ***
*** MESSAGE FILE END hold/4DD7F98E560 ***
