*** ENVELOPE RECORDS deferred/4/4245998E547 ***
message_size:            2734             275               1               0            2734               0
message_arrival_time: Fri Nov 27 18:38:00 2026
create_time: Fri Nov 27 18:38:00 2026
named_attribute: log_message_origin=local
named_attribute: trace_flags=0
sender: 
named_attribute: dsn_orig_rcpt=rfc822;bounce-me@example.net
original_recipient: bounce-me@example.net
recipient: bounce-me@example.net
*** MESSAGE CONTENTS deferred/4/4245998E547 ***
*** HEADER EXTRACTED deferred/4/4245998E547 ***
named_attribute: encoding=8bit
*** MESSAGE FILE END deferred/4/4245998E547 ***
