*** ENVELOPE RECORDS maildrop/4jbhxp6l2cz1SW60 ***
message_arrival_time: Fri Nov 27 18:38:22 2026
named_attribute: rewrite_context=local
sender_fullname: nobody
sender: nobody
named_attribute: encoding=8bit
*** MESSAGE CONTENTS maildrop/4jbhxp6l2cz1SW60 ***
*** HEADER EXTRACTED maildrop/4jbhxp6l2cz1SW60 ***
recipient: carol@example.com
recipient: dave@example.com
recipient: erin@example.com
recipient: frank@example.com
*** MESSAGE FILE END maildrop/4jbhxp6l2cz1SW60 ***
