"""The lab hand-off: what crosses the boundary between a campaign and a laboratory.

* :mod:`~materials_ai.lab.schema`: column names, units, plausible ranges and the versions
  of the bundle and results-file layouts;
* :mod:`~materials_ai.lab.export`: the bundle a lab receives (``campaign export``);
* :mod:`~materials_ai.lab.ingest`: the lab's results file back into a campaign as
  ``experiment`` observations (``campaign ingest``).

The lab layer sits above the report (the bundle holds the HTML report) and the campaign
(it reads run directories through :mod:`materials_ai.campaign.inspect`); neither imports it.
"""
