import './base.css';
import './obs.css';
