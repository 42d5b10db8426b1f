"""The Slack bot: questions from mentions, direct messages and ``/ask``, answered in threads.

``searchqa serve`` takes Slack's HTTP requests at ``/slack/events`` when a bot token and a
signing secret are set; ``searchqa slack`` runs the same bot over Socket Mode.
"""
