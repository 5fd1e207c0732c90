# The two commands of the README.
.PHONY: run test setup lint lock upgrade

run:            ## set up and start the embedded default on http://127.0.0.1:8000
	./scripts/setup.sh
	.venv/bin/enclave serve

test:           ## set up and run every test suite (the same command CI runs)
	./scripts/setup.sh dev
	./scripts/test.sh

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

lock:           ## pin a changed dependency in requirements/lock.txt, keeping the other pins
	./scripts/lock.sh

upgrade:        ## re-resolve every dependency to its newest allowed version (then make test)
	./scripts/lock.sh --upgrade
