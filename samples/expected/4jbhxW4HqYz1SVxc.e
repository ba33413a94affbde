*** ENVELOPE RECORDS deferred/9/4jbhxW4HqYz1SVxc ***
message_size:             461             907               3              12             461               0
message_arrival_time: Fri Nov 27 18:38:07 2026
create_time: Fri Nov 27 18:38:07 2026
named_attribute: log_ident=4jbhxW4HqYz1SVxc
named_attribute: rewrite_context=local
named_attribute: envelope_id=long-id
named_attribute: ret_flags=2
sender: dsn-sender@example.net
named_attribute: log_client_name=localhost
named_attribute: log_client_address=127.0.0.1
named_attribute: log_client_port=58126
named_attribute: log_message_origin=localhost[127.0.0.1]
named_attribute: log_helo_name=client.example.net
named_attribute: log_protocol_name=ESMTP
named_attribute: client_name=localhost
named_attribute: reverse_client_name=localhost
named_attribute: client_address=127.0.0.1
named_attribute: client_port=58126
named_attribute: server_address=127.0.0.1
named_attribute: server_port=10025
named_attribute: helo_name=client.example.net
named_attribute: protocol_name=ESMTP
named_attribute: client_address_type=2
warning_message_time: Fri Nov 27 22:38:07 2026
named_attribute: notify_flags=6
named_attribute: dsn_orig_rcpt=rfc822;bob@example.com
original_recipient: bob@example.com
recipient: bob@example.com
named_attribute: dsn_orig_rcpt=rfc822;carol@example.com
original_recipient: carol@example.com
recipient: carol@example.com
named_attribute: dsn_orig_rcpt=rfc822;info@example.com
original_recipient: info@example.com
recipient: info@example.com
*** MESSAGE CONTENTS deferred/9/4jbhxW4HqYz1SVxc ***
*** HEADER EXTRACTED deferred/9/4jbhxW4HqYz1SVxc ***
*** MESSAGE FILE END deferred/9/4jbhxW4HqYz1SVxc ***
