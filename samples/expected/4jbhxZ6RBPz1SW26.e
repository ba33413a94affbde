*** ENVELOPE RECORDS active/4jbhxZ6RBPz1SW26 ***
message_size:             541             781               2               0             541               0
message_arrival_time: Fri Nov 27 18:38:10 2026
create_time: Fri Nov 27 18:38:10 2026
named_attribute: log_ident=4jbhxZ6RBPz1SW26
named_attribute: rewrite_context=local
sender: sender@example.net
named_attribute: log_client_name=localhost
named_attribute: log_client_address=127.0.0.1
named_attribute: log_client_port=58162
named_attribute: log_message_origin=localhost[127.0.0.1]
named_attribute: log_helo_name=client.example.net
named_attribute: log_protocol_name=ESMTP
named_attribute: client_name=localhost
named_attribute: reverse_client_name=localhost
named_attribute: client_address=127.0.0.1
named_attribute: client_port=58162
named_attribute: server_address=127.0.0.1
named_attribute: server_port=10025
named_attribute: helo_name=client.example.net
named_attribute: protocol_name=ESMTP
named_attribute: client_address_type=2
warning_message_time: Fri Nov 27 22:38:10 2026
named_attribute: dsn_orig_rcpt=rfc822;hang@example.com
original_recipient: hang@example.com
recipient: hang@example.com
named_attribute: dsn_orig_rcpt=rfc822;alice@example.com
original_recipient: alice@example.com
recipient: alice@example.com
*** MESSAGE CONTENTS active/4jbhxZ6RBPz1SW26 ***
*** HEADER EXTRACTED active/4jbhxZ6RBPz1SW26 ***
*** MESSAGE FILE END active/4jbhxZ6RBPz1SW26 ***
