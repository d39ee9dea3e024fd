# systemd/local.mk - unit files and their tests (included by Makefile.am).
