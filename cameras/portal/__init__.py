"""Portal pages that manage sites, cameras and who may see them (``/manage/...``)."""
