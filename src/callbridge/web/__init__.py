"""What callbridge serves to browsers: the calling SDK as an ES module, and a bare page that drives it."""
