/* ctl_views.c: being written. */
