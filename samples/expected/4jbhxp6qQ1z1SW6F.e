*** ENVELOPE RECORDS maildrop/4jbhxp6qQ1z1SW6F ***
message_arrival_time: Fri Nov 27 18:38:22 2026
named_attribute: rewrite_context=local
sender_fullname: nobody
sender: nobody
recipient: grace@example.com
*** MESSAGE CONTENTS maildrop/4jbhxp6qQ1z1SW6F ***
*** HEADER EXTRACTED maildrop/4jbhxp6qQ1z1SW6F ***
*** MESSAGE FILE END maildrop/4jbhxp6qQ1z1SW6F ***
