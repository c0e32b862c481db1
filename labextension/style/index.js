import './base.css';
import './addfiles.css';
import './git.css';
import './visualization.css';
import './upload.css';
import './obs.css';
import './storage.css';
