"""The public Gradio leaderboard: board, submit, my submissions, review, about.

Importing this package imports no gradio: `cli` must set the sign-in environment
first (see `oauth_env`). Use `heldout.leaderboard.app.create_app` for the Blocks and
`heldout.leaderboard.server` to serve them. Nothing here imports `heldout.evaluator`
or can reach the test set.
"""
