/* subscriber.c: placeholder, being written. */
