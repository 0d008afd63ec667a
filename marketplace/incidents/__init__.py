"""Mass incidents: declare, select the affected orders, preview, run the compensation, report."""
