dnl SPDX-License-Identifier: ISC
# TCPXD_CHECK_CFLAG(FLAG): append FLAG to TCPXD_CFLAGS when the compiler accepts it.
AC_DEFUN([TCPXD_CHECK_CFLAG], [
  AC_MSG_CHECKING([whether $CC accepts $1])
  tcpxd_save_CFLAGS=$CFLAGS
  CFLAGS="$CFLAGS -Werror $1"
  AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
    [AC_MSG_RESULT([yes]); TCPXD_CFLAGS="$TCPXD_CFLAGS $1"],
    [AC_MSG_RESULT([no])])
  CFLAGS=$tcpxd_save_CFLAGS
])

# TCPXD_CHECK_LDFLAG(FLAG): append FLAG to TCPXD_LDFLAGS when the linker accepts it.
AC_DEFUN([TCPXD_CHECK_LDFLAG], [
  AC_MSG_CHECKING([whether the linker accepts $1])
  tcpxd_save_LDFLAGS=$LDFLAGS
  LDFLAGS="$LDFLAGS -Werror $1"
  AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])],
    [AC_MSG_RESULT([yes]); TCPXD_LDFLAGS="$TCPXD_LDFLAGS $1"],
    [AC_MSG_RESULT([no])])
  LDFLAGS=$tcpxd_save_LDFLAGS
])
