*** ENVELOPE RECORDS deferred/A/4jbhxW51KYz1SVyp ***
message_size:             535             784               2               0             535               0
message_arrival_time: Fri Nov 27 18:38:07 2026
create_time: Fri Nov 27 18:38:07 2026
named_attribute: log_ident=4jbhxW51KYz1SVyp
named_attribute: rewrite_context=local
sender: bounce-me@example.net
named_attribute: log_client_name=localhost
named_attribute: log_client_address=127.0.0.1
named_attribute: log_client_port=58146
named_attribute: log_message_origin=localhost[127.0.0.1]
named_attribute: log_helo_name=client.example.net
named_attribute: log_protocol_name=ESMTP
named_attribute: client_name=localhost
named_attribute: reverse_client_name=localhost
named_attribute: client_address=127.0.0.1
named_attribute: client_port=58146
named_attribute: server_address=127.0.0.1
named_attribute: server_port=10025
named_attribute: helo_name=client.example.net
named_attribute: protocol_name=ESMTP
named_attribute: client_address_type=2
warning_message_time: Fri Nov 27 22:38:07 2026
named_attribute: dsn_orig_rcpt=rfc822;carol@example.com
original_recipient: carol@example.com
recipient: carol@example.com
named_attribute: dsn_orig_rcpt=rfc822;gone@example.com
original_recipient: gone@example.com
done_recipient: gone@example.com
*** MESSAGE CONTENTS deferred/A/4jbhxW51KYz1SVyp ***
*** HEADER EXTRACTED deferred/A/4jbhxW51KYz1SVyp ***
*** MESSAGE FILE END deferred/A/4jbhxW51KYz1SVyp ***
