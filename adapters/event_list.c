/* event_list.c: placeholder, being written. */
