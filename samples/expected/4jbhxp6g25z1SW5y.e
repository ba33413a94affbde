*** ENVELOPE RECORDS maildrop/4jbhxp6g25z1SW5y ***
message_arrival_time: Fri Nov 27 18:38:22 2026
named_attribute: envelope_id=envid-maildrop-1
named_attribute: rewrite_context=local
sender_fullname: Nobody Sample
sender: nobody
named_attribute: notify_flags=12
recipient: alice@example.com
named_attribute: notify_flags=12
recipient: bob@example.com
*** MESSAGE CONTENTS maildrop/4jbhxp6g25z1SW5y ***
*** HEADER EXTRACTED maildrop/4jbhxp6g25z1SW5y ***
*** MESSAGE FILE END maildrop/4jbhxp6g25z1SW5y ***
