#!/bin/bash
exec node "$(dirname "$0")/creds.js"
