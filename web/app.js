/*  app.js: the browser client. */
"use strict";
