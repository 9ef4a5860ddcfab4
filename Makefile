# Two commands for a fresh machine with only Python 3.11+, pip and make:
#   make demo   set up, write the sample inbox, run the pipeline with the demo key
#   make test   set up and run the tests
# uv is bootstrapped into .tools/ when it is not on PATH; everything else comes from uv.lock.
#   make install  set up, and put the `tuoyu` command (./tuoyu) on the PATH: a link in
#                 ~/.local/bin, which is added to ~/.bashrc's PATH when it is not on it

PYTHON ?= python3
export UV_PYTHON_DOWNLOADS := never
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
DEMO_DIR ?= data/demo
BIN_DIR ?= $(HOME)/.local/bin

.PHONY: setup install demo test dev bench clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet 'uv==0.13.9'

# --compile-bytecode: every run starts from compiled modules even where Python is told not
# to write them (PYTHONDONTWRITEBYTECODE); about 8 s once, after each change of the lock.
setup: $(if $(shell command -v uv 2>/dev/null),,.tools/bin/uv)
	$(UV) sync --frozen --quiet --compile-bytecode

install: setup
	mkdir -p "$(BIN_DIR)"
	ln -sfn "$(CURDIR)/tuoyu" "$(BIN_DIR)/tuoyu"
	@case ":$$PATH:" in *":$(BIN_DIR):"*) ;; *) \
	  grep -qsF '# tuoyu: $(BIN_DIR)' "$(HOME)/.bashrc" || \
	    printf '\nexport PATH="%s:$$PATH"  # tuoyu: %s\n' "$(BIN_DIR)" "$(BIN_DIR)" >> "$(HOME)/.bashrc"; \
	  echo "已把 $(BIN_DIR) 加入 ~/.bashrc 的 PATH：请打开一个新的终端窗口。";; esac
	@echo "安装完成：在任何文件夹运行 tuoyu --help 查看命令（在项目文件夹也可写 ./tuoyu）。"

demo: setup
	$(UV) run --frozen tuoyu demo --dir $(DEMO_DIR)

# In parallel (pytest-xdist), whole modules to a worker so that module fixtures run once.
test: setup
	$(UV) run --frozen pytest -q --numprocesses auto --maxprocesses 4 --dist loadscope

dev: setup
	$(UV) run --frozen tuoyu dev

bench: setup
	$(UV) run --frozen python bench/run.py
	$(UV) run --frozen python bench/rollup.py

clean:
	rm -rf data/demo .pytest_cache
