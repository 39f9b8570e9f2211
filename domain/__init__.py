"""The pure core of aduan: the Complaint aggregate, vocabulary, working days, service levels."""
