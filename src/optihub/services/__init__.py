"""Use cases. Each public function runs inside the caller's transaction, flushes but never
commits, scopes every lookup by practice, and writes its outbox events in that same
transaction (so a failure anywhere leaves no partial rows and no event).

Importing the package installs what every session of the process needs: the stored order
documents' session hooks, and the reactions of one use case to another (``events.hooks``),
connected here so that the announcing service never imports the one that reacts.
"""

from optihub.reads.documents import install_session_hooks
from optihub.services import fulfillment, prescriptions

install_session_hooks()

# A recorded prescription goes to the patient's open orders waiting for one.
prescriptions.recorded.connect(fulfillment.match_patient_orders)
