#!/bin/sh
# todos-fcgi under mod_fcgid on a shared host (todos-fcgi(8)): this script,
# as todos-fcgi.fcgi in the web root next to the .htaccess of
# @DATADIR@/apache/htaccess-fcgid, sets the settings and becomes the
# responder.  mod_fcgid starts it with the FastCGI socket on fd 0, which
# exec hands on, as it hands on mod_fcgid's SIGTERM.
#
# Change the binary's path to where you put it (e.g. $HOME/bin/todos-fcgi,
# built on a machine like the host), and the settings (todos-fcgi(8),
# ENVIRONMENT).  It may hold the Redis password and PURGE_TOKEN: chmod 0700
# works only where the host runs your scripts as you (suexec, mpm-itk);
# where Apache runs them as www-data it needs 0755, and then keep secrets
# out of it (e.g. a REDIS_URL without password on a private network).
export UPSTREAM_URL='https://jsonplaceholder.typicode.com'
export REDIS_URL='redis://127.0.0.1:6379/0'
export CACHE_TTL=60
# mod_fcgid sends each process one request at a time.
export FCGI_THREADS=1
export BACKGROUND_THREADS=2
export LOG_LEVEL=warn
#export PURGE_TOKEN='at-least-16-printable-characters'
exec @SBINDIR@/todos-fcgi
