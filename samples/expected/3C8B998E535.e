*** ENVELOPE RECORDS deferred/3/3C8B998E535 ***
message_size:             799             681               1               0             799               0
message_arrival_time: Fri Nov 27 18:38:00 2026
create_time: Fri Nov 27 18:38:00 2026
named_attribute: log_ident=3C8B998E535
named_attribute: rewrite_context=local
sender: 
named_attribute: log_client_name=localhost
named_attribute: log_client_address=127.0.0.1
named_attribute: log_client_port=35086
named_attribute: log_message_origin=localhost[127.0.0.1]
named_attribute: log_helo_name=client.example.net
named_attribute: log_protocol_name=ESMTP
named_attribute: client_name=localhost
named_attribute: reverse_client_name=localhost
named_attribute: client_address=127.0.0.1
named_attribute: client_port=35086
named_attribute: server_address=127.0.0.1
named_attribute: server_port=10025
named_attribute: helo_name=client.example.net
named_attribute: protocol_name=ESMTP
named_attribute: client_address_type=2
named_attribute: dsn_orig_rcpt=rfc822;postmaster@example.com
original_recipient: postmaster@example.com
recipient: postmaster@example.com
*** MESSAGE CONTENTS deferred/3/3C8B998E535 ***
*** HEADER EXTRACTED deferred/3/3C8B998E535 ***
*** MESSAGE FILE END deferred/3/3C8B998E535 ***
