"""The read path every surface shares: one module per aggregate (orders, frames,
prescriptions, patients), plain views out, and stored order documents in.

Surfaces list and show orders through ``optihub.reads.orders`` only; what a surface shows
of an order is its *projection* (``optihub.reads.documents``), rendered when the order
changes, in the same transaction, and served as stored bytes.
"""
