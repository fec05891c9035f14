# The few commands a person types. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements/dev.txt pyproject.toml | cksum | cut -d' ' -f1)
REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= $(REGION)
# checkov/cfn-lint/sam never need real credentials here; stop boto3 from hunting for them.
export AWS_EC2_METADATA_DISABLED := true

# `sam build` without Docker needs the template's runtime (python3.13) on PATH;
# pyenv installs are picked up when present.
PY313 := $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin))

.PHONY: help
help: ## list the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# First run: docs/first-run.md says how long this takes and how large .venv grows.
$(STAMP): requirements/dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python >= 3.11 is required (set PYTHON=...)")'
	@test -x $(BIN)/python || { \
	  echo "==> creating $(VENV) with $$($(PYTHON) -c 'import sys; print(sys.executable, sys.version.split()[0])')"; \
	  $(PYTHON) -m venv $(VENV); }
	@echo "==> installing the pinned tools of requirements/dev.txt into $(VENV) (first run only; see docs/first-run.md)"
	@$(BIN)/python -m tools.venv_install requirements/dev.txt
	@rm -f $(VENV)/.installed-*; touch $@

.PHONY: venv
venv: $(STAMP) ## create .venv with the pinned dev dependencies

.PHONY: test
test: $(STAMP) lint typecheck validate checkov ## lint, type-check, validate the template, run checkov and the test suite
	@rm -f .local/iam/decisions/pytest-*.jsonl  # `make iam-report` reads this run's calls
	@echo "==> tests: pytest on 2 workers (each test has a time limit; see pyproject.toml)"
	$(BIN)/pytest -n 2 --dist loadgroup

.PHONY: pytest
pytest: $(STAMP) ## some tests only, as the walkthrough shows them: make pytest ARGS="tests/contract -k duplicate"
	$(BIN)/pytest -p no:cacheprovider $(ARGS)

.PHONY: lint
lint: $(STAMP)
	@echo "==> lint: ruff check, ruff format --check"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

.PHONY: typecheck
typecheck: $(STAMP)
	@echo "==> type-check: mypy --strict"
	$(BIN)/mypy layers/shared/customer_platform functions local_stack tools tests bench

.PHONY: validate
validate: $(STAMP) ## sam validate (SAM transform and --lint) and cfn-lint on template.yaml
	@echo "==> validate: sam validate --lint, sam validate --language-extensions, cfn-lint"
	$(BIN)/sam validate --lint --region $(REGION) --template template.yaml
	@# the SAM transform itself, after AWS::LanguageExtensions (docs/api-security.md)
	$(BIN)/sam validate --language-extensions --region $(REGION) --template template.yaml
	$(BIN)/cfn-lint template.yaml

.PHONY: checkov
checkov: $(STAMP) ## checkov on template.yaml (suppressions live in the template with reasons)
	@echo "==> checkov: template.yaml"
	$(BIN)/checkov --quiet --compact --skip-download --framework cloudformation --file template.yaml

.PHONY: build
build: $(STAMP) ## sam build for the template's runtime and architecture, without Docker
	@PATH="$(if $(PY313),$(PY313):)$$PATH"; \
	if ! python3.13 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then \
	  echo "make build: sam build (without Docker) needs Python 3.13, the template's runtime, as" \
	    "'python3.13' on PATH. Install it (e.g. 'pyenv install 3.13', 'uv python install 3.13'" \
	    "or your OS package python3.13) and run make build again." >&2; exit 1; \
	elif ! python3.13 -m pip --version >/dev/null 2>&1; then \
	  echo "make build: $$(command -v python3.13) has no pip; sam build installs the layer's" \
	    "requirements with it. Run 'python3.13 -m ensurepip' (or install python3.13-pip)." >&2; exit 1; \
	fi; \
	echo "$(BIN)/sam build --template template.yaml --parallel  # with $$(command -v python3.13)"; \
	$(BIN)/sam build --template template.yaml --parallel

.PHONY: demo
demo: $(STAMP) ## narrated end-to-end run of every pattern on the local stack
	@echo "==> demo: deploying template.yaml into the local stack, then every pattern over HTTP"
	$(BIN)/python -m local_stack.commands.demo

.PHONY: api
api: $(STAMP) ## serve the whole stack on http://127.0.0.1:3000 (PORT=...), like sam local start-api; ApiAuth=COGNITO checks tokens; Ctrl-C stops it
	$(if $(ApiAuth),LOCAL_API_AUTH=$(ApiAuth) )$(BIN)/python -m local_stack.commands.server

.PHONY: wait
wait: $(STAMP) ## wait until a `make api` started elsewhere (e.g. `make api &`) answers (PORT=... for one of several); prints its URL
	@$(BIN)/python -m local_stack.commands.running wait

.PHONY: logs
logs: $(STAMP) ## follow one function's log of the running stack (this run's lines; PORT=... for one of several): make logs FN=CustomersRdsFunction
	@test -n "$(FN)" || { echo "usage: make logs FN=<LogicalId> [PORT=<the stack's port>]"; exit 2; }
	@grep -q "^  $(FN):$$" template.yaml || { echo "$(FN) is not a logical id of template.yaml (e.g. CustomersRdsFunction)"; exit 2; }
	@log=$$($(BIN)/python -m local_stack.commands.running log "$(FN)") && exec tail -n +1 -F "$$log"

.PHONY: aws
aws: $(STAMP) ## the AWS CLI (v1 or v2) against the running local stack: make aws ARGS="sqs list-queues" [PORT=...]
	@$(BIN)/python -m local_stack.commands.aws_cli $(ARGS)

.PHONY: iam-report
iam-report: $(STAMP) ## per function: the AWS calls it made (tests, demo) beside what its role grants
	@$(BIN)/python -m local_stack.iam.report $(ARGS)

.PHONY: invoke
invoke: $(STAMP) ## one function, one event: make invoke FN=CustomersDynamoDBFunction EVENT=events/customers_dynamodb/get.json
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<LogicalId> EVENT=events/<file>.json"; exit 2; }
	$(BIN)/python -m local_stack.commands.invoke "$(FN)" "$(EVENT)"

.PHONY: sync
sync: $(STAMP) ## run the partner sync once on the local stack (PARTNER_URL=<url>; default: a bundled local feed)
	$(BIN)/python -m local_stack.commands.sync $(if $(PARTNER_URL),--url "$(PARTNER_URL)")

.PHONY: redrive
redrive: $(STAMP) ## move a DLQ's messages back to its queue on the running stack: make redrive DLQ=AuditDeadLetterQueueUrl
	@test -n "$(DLQ)" || { echo "usage: make redrive DLQ=<...DeadLetterQueueUrl output>"; exit 2; }
	$(BIN)/python -m local_stack.commands.redrive "$(DLQ)"

.PHONY: replay
replay: $(STAMP) ## publish again the stream batches the publisher gave up on (PublisherFailureQueue); STACK=<name> for a deployed stack
	$(BIN)/python -m tools.stream_replay $(if $(STACK),--stack "$(STACK)" --region $(REGION))

.PHONY: restore
restore: $(STAMP) ## copy customers back from a DynamoDB point-in-time restore: make restore FROM=<restored table> [DRY_RUN=1] [OVERWRITE=1] [STACK=<name>]
	@test -n "$(FROM)" || { echo "usage: make restore FROM=<restored table> [DRY_RUN=1] [OVERWRITE=1] [STACK=<deployed stack>]  (docs/customers-dynamodb.md)"; exit 2; }
	PYTHONPATH=layers/shared $(BIN)/python -m tools.dynamodb_copy_back "$(FROM)" $(if $(STACK),--stack "$(STACK)" --region $(REGION)) $(if $(DRY_RUN),--dry-run) $(if $(OVERWRITE),--overwrite)

.PHONY: bench
bench: $(STAMP) ## latency, cold start, ingest and size figures beside their floors (bench/results.json)
	@# python3.13 on PATH as for `make build`: cold starts run on the template's runtime
	PATH="$(if $(PY313),$(PY313):)$$PATH" $(BIN)/python -m bench $(ARGS)

.PHONY: cost
cost: $(STAMP) ## the notes' S3-vs-CloudFront monthly cost for 100,000 documents, every price an option (ARGS="--help")
	$(BIN)/python -m tools.document_costs $(ARGS)

.PHONY: budget
budget: $(STAMP) ## the MySQL connection budget of each samconfig environment (ARGS="--set DatabaseInstanceClass=db.t4g.small")
	$(BIN)/python -m tools.connection_budget $(ARGS)

.PHONY: openapi
openapi: $(STAMP) ## regenerate docs/openapi.json and the template's request models from the code
	PYTHONPATH=layers/shared $(BIN)/python -m tools.openapi

.PHONY: user
user: $(STAMP) ## a user of the deployed stack's user pool: make user EMAIL=you@example.com [GROUP=readers|writers|admins] [STACK=...]
	@test -n "$(EMAIL)" || { echo "usage: make user EMAIL=you@example.com [GROUP=readers|writers|admins] [STACK=customer-platform]"; exit 2; }
	$(BIN)/python -m tools.sandbox_user "$(EMAIL)" --region $(REGION) $(if $(STACK),--stack $(STACK)) $(if $(GROUP),--group $(GROUP))

.PHONY: preflight
preflight: $(STAMP) ## before a deploy: what the account needs changed for the stack (ENV=prod PARAMS="Name=value ...")
	$(BIN)/python -m tools.preflight --config-env $(or $(ENV),default) $(if $(PARAMS),--parameters "$(PARAMS)") $(if $(STACK),--stack $(STACK))

.PHONY: deploy
deploy: preflight build ## make preflight, make build, then sam deploy with samconfig.toml's [ENV] and PARAMS on top
	$(BIN)/sam deploy --config-env $(or $(ENV),default) $(if $(STACK),--stack-name $(STACK)) \
	  $(if $(PARAMS),--parameter-overrides "$$($(BIN)/python -m tools.preflight --config-env $(or $(ENV),default) --parameters "$(PARAMS)" --print-overrides)")

.PHONY: drill-aws
drill-aws: $(STAMP) ## what only AWS can show, against YOUR deployed sandbox stack: make drill-aws NAME=<stack> [ARGS=--only ...]
	@test -n "$(NAME)" || { echo "usage: make drill-aws NAME=<deployed stack name> [ARGS=...]; it never guesses a stack" >&2; exit 2; }
	$(BIN)/python -m tools.drill_aws --stack "$(NAME)" --region $(REGION) $(ARGS)

.PHONY: token
token: $(STAMP) ## headers for the deployed API (Authorization, x-api-key): API_USER=you@example.com make token
	@$(BIN)/python -m tools.get_token --region $(REGION) $(if $(STACK),--stack $(STACK))

.PHONY: lock
lock: ## re-resolve requirements/dev.txt from pyproject.toml's dev extras (needs the network)
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --disable-pip-version-check --upgrade setuptools
	.venv-lock/bin/pip install --quiet --disable-pip-version-check '.[dev]'
	@# --all: wheel and setuptools too (pip freeze leaves them out), so that an install from
	@# the lock never has to search for a version of either (docs/first-run.md)
	.venv-lock/bin/pip freeze --all --exclude pip --exclude customer-platform | sort > requirements/dev.txt
	@# pip freeze drops extras: pin boto3[crt], botocore[crt], ... too, or pip backtracks on them
	.venv-lock/bin/python -m tools.lock_extras requirements/dev.txt
	rm -rf .venv-lock

.PHONY: clean
clean: ## remove build output, caches and local state (keeps .venv)
	rm -rf .aws-sam .local .pytest_cache .mypy_cache .ruff_cache .hypothesis
