// Package web holds the embedded HTML templates of oidcd's pages (consent,
// error, form_post, login, logout) and renders them with html/template, letting
// a host overlay any of them with its own files. It imports nothing of oidcd.
package web
