*** ENVELOPE RECORDS deferred/8/8BBD698E574 ***
message_size:             526             227               4               0             526               0
message_arrival_time: Fri Nov 27 18:38:00 2026
create_time: Fri Nov 27 18:38:00 2026
named_attribute: rewrite_context=local
sender_fullname: Nobody Sample
sender: nobody@backup-mx.example.com
warning_message_time: Fri Nov 27 22:38:00 2026
*** MESSAGE CONTENTS deferred/8/8BBD698E574 ***
*** HEADER EXTRACTED deferred/8/8BBD698E574 ***
named_attribute: dsn_orig_rcpt=rfc822;alice@example.com
original_recipient: alice@example.com
recipient: alice@example.com
named_attribute: dsn_orig_rcpt=rfc822;bob@example.com
original_recipient: bob@example.com
recipient: bob@example.com
named_attribute: dsn_orig_rcpt=rfc822;carol@example.com
original_recipient: carol@example.com
recipient: carol@example.com
named_attribute: dsn_orig_rcpt=rfc822;staff-list@example.com
original_recipient: staff-list@example.com
recipient: staff-list@example.com
*** MESSAGE FILE END deferred/8/8BBD698E574 ***
