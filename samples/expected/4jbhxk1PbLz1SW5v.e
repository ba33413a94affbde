*** ENVELOPE RECORDS incoming/4jbhxk1PbLz1SW5v ***
message_size:             473             700               1               0             473               0
message_arrival_time: Fri Nov 27 18:38:18 2026
create_time: Fri Nov 27 18:38:18 2026
named_attribute: log_ident=4jbhxk1PbLz1SW5v
named_attribute: rewrite_context=local
sender: sender@example.net
named_attribute: log_client_name=localhost
named_attribute: log_client_address=127.0.0.1
named_attribute: log_client_port=54548
named_attribute: log_message_origin=localhost[127.0.0.1]
named_attribute: log_helo_name=client.example.net
named_attribute: log_protocol_name=ESMTP
named_attribute: client_name=localhost
named_attribute: reverse_client_name=localhost
named_attribute: client_address=127.0.0.1
named_attribute: client_port=54548
named_attribute: server_address=127.0.0.1
named_attribute: server_port=10025
named_attribute: helo_name=client.example.net
named_attribute: protocol_name=ESMTP
named_attribute: client_address_type=2
warning_message_time: Fri Nov 27 22:38:18 2026
named_attribute: dsn_orig_rcpt=rfc822;bob@example.com
original_recipient: bob@example.com
recipient: bob@example.com
*** MESSAGE CONTENTS incoming/4jbhxk1PbLz1SW5v ***
*** HEADER EXTRACTED incoming/4jbhxk1PbLz1SW5v ***
*** MESSAGE FILE END incoming/4jbhxk1PbLz1SW5v ***
