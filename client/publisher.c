/* publisher.c: placeholder, being written. */
