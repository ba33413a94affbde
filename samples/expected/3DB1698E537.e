*** ENVELOPE RECORDS deferred/3/3DB1698E537 ***
message_size:             485            1037               4              30             485               0
message_arrival_time: Fri Nov 27 18:38:00 2026
create_time: Fri Nov 27 18:38:00 2026
named_attribute: log_ident=3DB1698E537
named_attribute: rewrite_context=local
named_attribute: envelope_id=QQ+314=pi-case x
named_attribute: ret_flags=2
sender: dsn-sender@example.net
named_attribute: log_client_name=localhost
named_attribute: log_client_address=127.0.0.1
named_attribute: log_client_port=35088
named_attribute: log_message_origin=localhost[127.0.0.1]
named_attribute: log_helo_name=client.example.net
named_attribute: log_protocol_name=ESMTP
named_attribute: client_name=localhost
named_attribute: reverse_client_name=localhost
named_attribute: client_address=127.0.0.1
named_attribute: client_port=35088
named_attribute: server_address=127.0.0.1
named_attribute: server_port=10025
named_attribute: helo_name=client.example.net
named_attribute: protocol_name=ESMTP
named_attribute: client_address_type=2
warning_message_time: Fri Nov 27 22:38:00 2026
named_attribute: notify_flags=14
named_attribute: dsn_orig_rcpt=rfc822;alice@example.com
original_recipient: alice@example.com
recipient: alice@example.com
named_attribute: notify_flags=1
named_attribute: dsn_orig_rcpt=rfc822;bob@example.com
original_recipient: bob@example.com
recipient: bob@example.com
named_attribute: dsn_orig_rcpt=rfc822;carol+sales@example.com
original_recipient: carol@example.com
recipient: carol@example.com
named_attribute: notify_flags=8
named_attribute: dsn_orig_rcpt=rfc822;Dave.Original@example.com
original_recipient: dave@example.com
recipient: dave@example.com
*** MESSAGE CONTENTS deferred/3/3DB1698E537 ***
*** HEADER EXTRACTED deferred/3/3DB1698E537 ***
*** MESSAGE FILE END deferred/3/3DB1698E537 ***
