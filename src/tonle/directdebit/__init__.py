"""Auto Direct Debit (spec other-apis §6): consent at a bank, debt signals, collections that never debit twice."""
