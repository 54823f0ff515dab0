#!/bin/bash
exec node "$(dirname "$0")/scan.js"
