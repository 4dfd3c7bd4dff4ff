/* pbjson.c: placeholder, being written. */
