*** ENVELOPE RECORDS deferred/5/5129198E567 ***
message_size:             635             870               4               0             635               0
message_arrival_time: Fri Nov 27 18:38:00 2026
create_time: Fri Nov 27 18:38:00 2026
named_attribute: log_ident=5129198E567
named_attribute: rewrite_context=local
sender: milter-sender@example.org
named_attribute: log_client_name=localhost
named_attribute: log_client_address=127.0.0.1
named_attribute: log_client_port=49128
named_attribute: log_message_origin=localhost[127.0.0.1]
named_attribute: log_helo_name=client.example.net
named_attribute: log_protocol_name=ESMTP
named_attribute: client_name=localhost
named_attribute: reverse_client_name=localhost
named_attribute: client_address=127.0.0.1
named_attribute: client_port=49128
named_attribute: server_address=127.0.0.1
named_attribute: server_port=10027
named_attribute: helo_name=client.example.net
named_attribute: protocol_name=ESMTP
named_attribute: client_address_type=2
warning_message_time: Fri Nov 27 22:38:00 2026
named_attribute: dsn_orig_rcpt=rfc822;alice@example.com
original_recipient: alice@example.com
recipient: alice@example.com
named_attribute: dsn_orig_rcpt=rfc822;dave@example.com
original_recipient: dave@example.com
canceled_recipient: dave@example.com
named_attribute: dsn_orig_rcpt=rfc822;bob@example.com
original_recipient: bob@example.com
recipient: bob@example.com
original_recipient: erin@example.com
recipient: erin@example.com
*** MESSAGE CONTENTS deferred/5/5129198E567 ***
*** HEADER EXTRACTED deferred/5/5129198E567 ***
*** MESSAGE FILE END deferred/5/5129198E567 ***
