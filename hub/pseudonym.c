/* pseudonym.c: placeholder, being written. */
