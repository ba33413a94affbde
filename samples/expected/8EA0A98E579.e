*** ENVELOPE RECORDS deferred/8/8EA0A98E579 ***
message_size:            2153             290               1               0            2153               0
message_arrival_time: Fri Nov 27 18:38:00 2026
create_time: Fri Nov 27 18:38:00 2026
named_attribute: log_message_origin=local
named_attribute: trace_flags=0
sender: 
named_attribute: dsn_orig_rcpt=rfc822;root@backup-mx.example.com
original_recipient: root@backup-mx.example.com
recipient: root@backup-mx.example.com
*** MESSAGE CONTENTS deferred/8/8EA0A98E579 ***
*** HEADER EXTRACTED deferred/8/8EA0A98E579 ***
named_attribute: encoding=8bit
*** MESSAGE FILE END deferred/8/8EA0A98E579 ***
