#!/usr/bin/env bash
# Deploy the stack to a running LocalStack with cdklocal, then run the e2e suite against it.
# Needs LocalStack 4.14.0 (the last free image) or a LOCALSTACK_AUTH_TOKEN, e.g.:
#   docker run -d -p 4566:4566 -v /var/run/docker.sock:/var/run/docker.sock localstack/localstack:4.14.0
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL:-http://localhost:4566}"
export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
mkdir -p .local
npx cdklocal bootstrap
npx cdklocal deploy --require-approval never -c retainData=false --outputs-file .local/localstack-outputs.json "$@"
E2E_TARGET=localstack npx vitest run test/e2e/purchase.test.ts
