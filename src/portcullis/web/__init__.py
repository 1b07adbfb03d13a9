"""The account pages under /account: server-rendered HTML over the same core calls as the APIs."""
