# SPDX-License-Identifier: ISC
# systemd/local.mk - unit files and their tests (included by Makefile.am).
#
# tcpxd.service (and the per-instance tcpxd@.service, see docs/SCALING.md)
# is generated from its .in file so that ExecStart= names
# the installed binary and configuration ($(sbindir), $(sysconfdir)); the
# socket units need no substitution.  All go to $(systemdsystemunitdir)
# (configure: pkg-config's, or --with-systemdsystemunitdir=DIR).

nodist_systemdsystemunit_DATA = systemd/tcpxd.service systemd/tcpxd@.service
dist_systemdsystemunit_DATA = systemd/tcpxd.socket systemd/tcpxd-inbox.socket

tcpxd_unit_edit = sed \
	-e 's|@sbindir[@]|$(sbindir)|g' \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g'

# One rule for both units (POSIX make has no pattern rules): each is made from $@.in.
systemd/tcpxd.service systemd/tcpxd@.service: $(srcdir)/systemd/tcpxd.service.in \
    $(srcdir)/systemd/tcpxd@.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && rm -f $@ $@.tmp && \
	$(tcpxd_unit_edit) '$(srcdir)/$@.in' > $@.tmp && mv $@.tmp $@

CLEANFILES = systemd/tcpxd.service systemd/tcpxd.service.tmp \
	systemd/tcpxd@.service systemd/tcpxd@.service.tmp

# make distcheck installs under a temporary prefix as a normal user: keep
# the units inside it instead of pkg-config's /lib/systemd/system.
DISTCHECK_CONFIGURE_FLAGS = \
	--with-systemdsystemunitdir='$$dc_install_base/lib/systemd/system'

# Tests against a real systemd (PID 1 of a systemd-nspawn container, see
# tests/systemd/systemd-sandbox), and the Debian packaging they build.
# Not part of "make check": they need root and, the first time, Debian's
# archive to build the container's root file system (kept in
# $(TCPXD_SANDBOX_DIR), default /var/tmp/tcpxd-systemd-sandbox).
EXTRA_DIST += systemd/tcpxd.service.in systemd/tcpxd@.service.in \
	tests/systemd/systemd-sandbox tests/systemd/check-systemd.sh \
	debian/changelog debian/control debian/copyright debian/rules \
	debian/source/format debian/tcpxd.postrm debian/tcpxd.prerm \
	debian/tcpxd.lintian-overrides

check-systemd: all systemd/tcpxd.service systemd/tcpxd@.service
	TCPXD_SRCDIR='$(abs_top_srcdir)' TCPXD_BUILDDIR='$(abs_top_builddir)' \
	  bash '$(srcdir)/tests/systemd/check-systemd.sh'
.PHONY: check-systemd
