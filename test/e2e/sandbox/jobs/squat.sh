#!/bin/bash
exec node "$(dirname "$0")/squat.js"
