*** ENVELOPE RECORDS hold/4jbhxW4JRzz1SVxv ***
message_size:             446             703               1               0             446               0
message_arrival_time: Fri Nov 27 18:38:07 2026
create_time: Fri Nov 27 18:38:07 2026
named_attribute: log_ident=4jbhxW4JRzz1SVxv
named_attribute: rewrite_context=local
sender: sender@example.net
named_attribute: log_client_name=localhost
named_attribute: log_client_address=127.0.0.1
named_attribute: log_client_port=58134
named_attribute: log_message_origin=localhost[127.0.0.1]
named_attribute: log_helo_name=client.example.net
named_attribute: log_protocol_name=ESMTP
named_attribute: client_name=localhost
named_attribute: reverse_client_name=localhost
named_attribute: client_address=127.0.0.1
named_attribute: client_port=58134
named_attribute: server_address=127.0.0.1
named_attribute: server_port=10025
named_attribute: helo_name=client.example.net
named_attribute: protocol_name=ESMTP
named_attribute: client_address_type=2
warning_message_time: Fri Nov 27 22:38:07 2026
named_attribute: dsn_orig_rcpt=rfc822;dave@example.com
original_recipient: dave@example.com
recipient: dave@example.com
*** MESSAGE CONTENTS hold/4jbhxW4JRzz1SVxv ***
*** HEADER EXTRACTED hold/4jbhxW4JRzz1SVxv ***
*** MESSAGE FILE END hold/4jbhxW4JRzz1SVxv ***
