import './base.css';
import './addfiles.css';
import './upload.css';
import './obs.css';
