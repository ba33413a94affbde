*** ENVELOPE RECORDS deferred/7/7DD1498E56E ***
message_size:             498             718               1               0             498               0
message_arrival_time: Fri Nov 27 18:38:00 2026
create_time: Fri Nov 27 18:38:00 2026
named_attribute: log_ident=7DD1498E56E
named_attribute: rewrite_context=local
sender: sender@example.net
named_attribute: log_client_name=localhost
named_attribute: log_client_address=127.0.0.1
named_attribute: log_client_port=49140
named_attribute: log_message_origin=localhost[127.0.0.1]
named_attribute: log_helo_name=client.example.net
named_attribute: log_protocol_name=ESMTP
named_attribute: client_name=localhost
named_attribute: reverse_client_name=localhost
named_attribute: client_address=127.0.0.1
named_attribute: client_port=49140
named_attribute: server_address=127.0.0.1
named_attribute: server_port=10027
named_attribute: helo_name=client.example.net
named_attribute: protocol_name=ESMTP
named_attribute: client_address_type=2
warning_message_time: Fri Nov 27 22:38:00 2026
named_attribute: dsn_orig_rcpt=rfc822;grace@example.com
original_recipient: grace@example.com
recipient: grace@example.com
*** MESSAGE CONTENTS deferred/7/7DD1498E56E ***
*** HEADER EXTRACTED deferred/7/7DD1498E56E ***
*** MESSAGE FILE END deferred/7/7DD1498E56E ***
