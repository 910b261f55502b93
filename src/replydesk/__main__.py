from replydesk.cli.main import main

main()
