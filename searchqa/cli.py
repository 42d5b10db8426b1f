"""The ``searchqa`` command line: ask, prompt, index, extract, serve, slack."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError
from rich.console import Console

from searchqa import __version__
from searchqa.errors import InvalidRequestError, SearchQAError, UpstreamError
from searchqa.exits import EXIT_BAD_INPUT, EXIT_ERROR, EXIT_UPSTREAM


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="searchqa", description="Answers grounded in live web pages, with citations."
    )
    parser.add_argument("--version", action="version", version=f"searchqa {__version__}")
    parser.add_argument("--debug", action="store_true", help="log details; tracebacks on error")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ask = commands.add_parser("ask", help="answer a question from the web, with citations")
    ask.add_argument("question", help="the question, or - to read it from stdin")
    ask.add_argument("--file", metavar="PATH", help="ask about this file instead of the web")
    ask.add_argument("--json", action="store_true", help="print the events, one JSON per line")
    ask.add_argument("--reasoning", action="store_true", help="show the model's thinking")
    ask.add_argument("--max-sources", type=int, metavar="N", help="pages to read (1-20)")
    ask.add_argument("--engines", metavar="LIST", help="engine chain, e.g. searxng,local")

    prompt = commands.add_parser("prompt", help="print the filled prompt and nothing else")
    prompt.add_argument("question", help="the question, or - to read it from stdin")
    prompt.add_argument("--max-sources", type=int, metavar="N", help="pages to read (1-20)")
    prompt.add_argument("--engines", metavar="LIST", help="engine chain, e.g. searxng,local")

    index = commands.add_parser(
        "index", help="add files, folders, pages or sitemaps to the local index"
    )
    index.add_argument("sources", nargs="+", metavar="PATH|URL|SITEMAP")
    index.add_argument("--quiet", action="store_true", help="print only the summary")

    serve = commands.add_parser("serve", help="run the HTTP API (answers, SSE, OpenAI-compatible)")
    serve.add_argument("--host", help="address to listen on (default: SEARCHQA_SERVER__HOST)")
    serve.add_argument("--port", type=int, help="port (default: SEARCHQA_SERVER__PORT)")
    serve.add_argument(
        "--workers", type=int, metavar="N", help="worker processes; more than one needs Redis"
    )

    commands.add_parser("slack", help="run the Slack bot over Socket Mode (no public URL needed)")

    extract = commands.add_parser("extract", help="print a page's extracted main text")
    extract.add_argument("target", metavar="URL|FILE", help="a web page or a local file")
    extract.add_argument("--meta", action="store_true", help="print title, URL and date first")
    return parser


def _read_question(value: str) -> str:
    return sys.stdin.read() if value == "-" else value


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, InvalidRequestError | ValidationError):
        return EXIT_BAD_INPUT
    if isinstance(exc, UpstreamError):
        return EXIT_UPSTREAM
    return EXIT_ERROR


def _message(exc: BaseException) -> str:
    if isinstance(exc, SearchQAError):
        return exc.message
    if isinstance(exc, ValidationError):
        return "invalid settings: " + "; ".join(
            f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in exc.errors()
        )
    return f"{type(exc).__name__}: {exc}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``searchqa`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from searchqa import commands

    stderr = Console(stderr=True, highlight=False)
    try:
        if args.command == "ask":
            return asyncio.run(commands.ask(args, _read_question(args.question)))
        if args.command == "prompt":
            return asyncio.run(commands.prompt(args, _read_question(args.question)))
        if args.command == "index":
            return asyncio.run(commands.index(args))
        if args.command == "serve":
            from searchqa.api.serve import serve
            from searchqa.settings import Settings

            return serve(Settings(), host=args.host, port=args.port, workers=args.workers)
        if args.command == "slack":
            return asyncio.run(commands.slack())
        return asyncio.run(commands.extract(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:
            stderr.print_exception()
        stderr.print(f"searchqa: {_message(exc)}", markup=False, soft_wrap=True)
        return _exit_code(exc)


if __name__ == "__main__":
    sys.exit(main())
