*** ENVELOPE RECORDS deferred/9/4jbhxW4Fbdz1SVxH ***
message_size:             428             706               1               0             428               0
message_arrival_time: Fri Nov 27 18:38:07 2026
create_time: Fri Nov 27 18:38:07 2026
named_attribute: log_ident=4jbhxW4Fbdz1SVxH
named_attribute: rewrite_context=local
sender: sender@example.net
named_attribute: log_client_name=localhost
named_attribute: log_client_address=127.0.0.1
named_attribute: log_client_port=58116
named_attribute: log_message_origin=localhost[127.0.0.1]
named_attribute: log_helo_name=client.example.net
named_attribute: log_protocol_name=ESMTP
named_attribute: client_name=localhost
named_attribute: reverse_client_name=localhost
named_attribute: client_address=127.0.0.1
named_attribute: client_port=58116
named_attribute: server_address=127.0.0.1
named_attribute: server_port=10025
named_attribute: helo_name=client.example.net
named_attribute: protocol_name=ESMTP
named_attribute: client_address_type=2
warning_message_time: Fri Nov 27 22:38:07 2026
named_attribute: dsn_orig_rcpt=rfc822;alice@example.com
original_recipient: alice@example.com
recipient: alice@example.com
*** MESSAGE CONTENTS deferred/9/4jbhxW4Fbdz1SVxH ***
*** HEADER EXTRACTED deferred/9/4jbhxW4Fbdz1SVxH ***
*** MESSAGE FILE END deferred/9/4jbhxW4Fbdz1SVxH ***
