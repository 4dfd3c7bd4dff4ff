/* validate.c: placeholder, being written. */
